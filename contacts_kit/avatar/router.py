"""Router of the avatar upload: `PATCH /users/me/avatar`."""

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, File, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.auth.schemas import AuthenticatedUser, UserRead
from contacts_kit.avatar.service import AvatarService
from contacts_kit.errors import (
    MALFORMED_BODY,
    FileTooLarge,
    InvalidToken,
    NotAuthenticated,
    StorageFailed,
    UnsupportedImage,
    error_responses,
)
from contacts_kit.routing import Routes

if TYPE_CHECKING:
    from contacts_kit.app import ContactsKit


def get_avatar_router(kit: "ContactsKit", routes: Routes | None = None) -> APIRouter:
    """Avatar upload of the current user."""
    router = (routes or Routes()).within(responses=MALFORMED_BODY)
    SessionDep = Annotated[AsyncSession, Depends(kit.session, scope="function")]
    CurrentUser = Annotated[AuthenticatedUser, Depends(kit.current_user)]

    @router.patch(
        "/me/avatar",
        name="users:avatar",
        response_model=UserRead,
        responses=error_responses(
            NotAuthenticated, InvalidToken, FileTooLarge, UnsupportedImage, StorageFailed
        ),
    )
    async def upload_avatar(
        file: Annotated[UploadFile, File(description="PNG, JPEG, WebP or GIF image.")],
        user: CurrentUser,
        session: SessionDep,
    ) -> UserRead:
        """Replace your avatar. The bytes decide the type, not the declared content type."""
        data = await file.read(kit.settings.avatar_max_bytes + 1)
        updated = await AvatarService(kit, session).replace(user.id, data)
        return UserRead.model_validate(updated)

    return router.router
