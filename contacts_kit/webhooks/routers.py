"""The router of webhooks, serving `webhooks.router`'s endpoints with one kit's
dependencies. No prefix: `kit.router` includes it at `/webhooks`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi import status as http_status

from contacts_kit.errors import ContactsKitError
from contacts_kit.http import BODY_ERRORS, DatabaseUnavailable, error_responses
from contacts_kit.ratelimit import RateLimited
from contacts_kit.routing import wired
from contacts_kit.webhooks import router as endpoints
from contacts_kit.webhooks.deps import WebhookDependencies
from contacts_kit.webhooks.errors import (
    DeliveryNotFound,
    TooManyWebhooks,
    WebhookNotFound,
    WebhooksNotConfigured,
)
from contacts_kit.webhooks.schemas import (
    Deliveries,
    Delivery,
    WebhookCreated,
    WebhookRead,
    WebhookSecret,
)


def get_webhooks_router(deps: WebhookDependencies) -> APIRouter:
    """The current owner's webhook endpoints: create, list, read, change, delete, rotate
    the secret, test, the delivery log and retries."""
    router = APIRouter(route_class=deps.route_class, responses=error_responses(DatabaseUnavailable))
    auth: tuple[type[ContactsKitError], ...] = (*deps.owner_errors, RateLimited)
    limited = [Depends(deps.limit)]
    writes = {"webhooks": deps.webhook_writes}
    one = (*auth, WebhookNotFound)
    router.add_api_route(
        "",
        wired(endpoints.create_webhook, **writes),
        methods=["POST"],
        name="webhooks:create",
        summary="Create a webhook endpoint",
        dependencies=limited,
        status_code=http_status.HTTP_201_CREATED,
        response_model=WebhookCreated,
        responses=error_responses(*auth, TooManyWebhooks, WebhooksNotConfigured, *BODY_ERRORS),
    )
    router.add_api_route(
        "",
        wired(endpoints.list_webhooks, **writes),
        methods=["GET"],
        name="webhooks:list",
        summary="List webhook endpoints",
        dependencies=limited,
        response_model=list[WebhookRead],
        responses=error_responses(*auth),
    )
    for method, endpoint, name, summary, model, errors in (
        ("GET", endpoints.get_webhook, "get", "Get a webhook endpoint", WebhookRead, one),
        (
            "PATCH",
            endpoints.update_webhook,
            "update",
            "Change a webhook endpoint",
            WebhookRead,
            (*one, *BODY_ERRORS),
        ),
    ):
        router.add_api_route(
            "/{webhook_id}",
            wired(endpoint, **writes),
            methods=[method],
            name=f"webhooks:{name}",
            summary=summary,
            dependencies=limited,
            response_model=model,
            responses=error_responses(*errors),
        )
    router.add_api_route(
        "/{webhook_id}",
        wired(endpoints.delete_webhook, **writes),
        methods=["DELETE"],
        name="webhooks:delete",
        summary="Delete a webhook endpoint",
        dependencies=limited,
        status_code=http_status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=error_responses(*one),
    )
    _add_actions(router, deps)
    return router


def _add_actions(router: APIRouter, deps: WebhookDependencies) -> None:
    """Rotate the secret, test, the delivery log and retries."""
    auth: tuple[type[ContactsKitError], ...] = (*deps.owner_errors, RateLimited)
    limited = [Depends(deps.limit)]
    writes = {"webhooks": deps.webhook_writes}
    router.add_api_route(
        "/{webhook_id}/secret",
        wired(endpoints.rotate_secret, **writes),
        methods=["POST"],
        name="webhooks:rotate_secret",
        summary="Rotate a webhook endpoint's secret",
        dependencies=limited,
        response_model=WebhookSecret,
        responses=error_responses(*auth, WebhookNotFound, WebhooksNotConfigured),
    )
    router.add_api_route(
        "/{webhook_id}/test",
        wired(endpoints.test_webhook, **writes),
        methods=["POST"],
        name="webhooks:test",
        summary="Send a test message",
        dependencies=limited,
        status_code=http_status.HTTP_202_ACCEPTED,
        response_model=Delivery,
        responses=error_responses(*auth, WebhookNotFound),
    )
    router.add_api_route(
        "/{webhook_id}/deliveries",
        wired(endpoints.list_deliveries, **writes),
        methods=["GET"],
        name="webhooks:deliveries",
        summary="List a webhook endpoint's messages and attempts",
        dependencies=limited,
        response_model=Deliveries,
        responses=error_responses(*auth, WebhookNotFound),
    )
    router.add_api_route(
        "/{webhook_id}/deliveries/{delivery_id}/retry",
        wired(endpoints.retry_delivery, **writes),
        methods=["POST"],
        name="webhooks:retry",
        summary="Send a message again",
        dependencies=limited,
        status_code=http_status.HTTP_202_ACCEPTED,
        response_model=Delivery,
        responses=error_responses(*auth, WebhookNotFound, DeliveryNotFound),
    )
