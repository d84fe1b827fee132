"""A local HTTP server that speaks Cloudinary's documented upload API.

`POST /v1_1/{cloud_name}/image/upload`: a multipart form with `file`, `api_key`,
`timestamp`, `signature` and the upload parameters. The signature is the SHA-1 hex digest of
the parameters other than `file`, `cloud_name`, `resource_type` and `api_key`, sorted,
joined as `key=value` with `&`, followed by the API secret. The reply is JSON with
`public_id`, `version`, `secure_url` (and more); errors are `{"error": {"message": ...}}`.

`POST /v1_1/{cloud_name}/image/destroy`: `public_id` (and `invalidate`, `type`), signed the
same way; the reply is `{"result": "ok"}`, or `{"result": "not found"}` for an unknown id.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.server import ThreadedServer
from tests.smtp import free_port

UNSIGNED = {"file", "cloud_name", "resource_type", "api_key", "signature"}


@dataclass
class CloudinaryServer:
    cloud_name: str = "demo-cloud"
    api_key: str = "123456789012345"
    api_secret: str = "contract-secret-do-not-leak"
    fail_with: tuple[int, str] | None = None
    uploads: list[dict[str, Any]] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        """The `cloudinary://` URL that points the SDK here."""
        return (
            f"cloudinary://{self.api_key}:{self.api_secret}@{self.cloud_name}"
            f"?upload_prefix=http://127.0.0.1:{self.port}"
        )

    def expected_signature(self, params: dict[str, str]) -> str:
        signed = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in UNSIGNED)
        return hashlib.sha1((signed + self.api_secret).encode()).hexdigest()  # noqa: S324

    async def _upload(self, request: Request) -> JSONResponse:
        if request.path_params["cloud"] != self.cloud_name:
            return JSONResponse({"error": {"message": "Invalid cloud_name"}}, status_code=401)
        form = await request.form()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = form.get("file")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        await form.close()
        self.uploads.append({"params": params, "bytes": data})
        if params.get("api_key") != self.api_key:
            return JSONResponse({"error": {"message": "Unknown API key"}}, status_code=401)
        if params.get("signature") != self.expected_signature(params):
            return JSONResponse({"error": {"message": "Invalid Signature"}}, status_code=401)
        if abs(int(params.get("timestamp", "0")) - time.time()) > 3600:
            return JSONResponse({"error": {"message": "Stale request"}}, status_code=400)
        if self.fail_with is not None:
            status, message = self.fail_with
            return JSONResponse({"error": {"message": message}}, status_code=status)
        version = 1_700_000_000 + len(self.uploads)
        public_id = params["public_id"]
        self.stored.add(public_id)
        base = f"https://res.cloudinary.com/{self.cloud_name}/image/upload/v{version}"
        return JSONResponse(
            {
                "public_id": public_id,
                "version": version,
                "format": "png",
                "resource_type": "image",
                "bytes": len(data),
                "url": f"{base}/{public_id}.png".replace("https://", "http://"),
                "secure_url": f"{base}/{public_id}.png",
            }
        )

    async def _destroy(self, request: Request) -> JSONResponse:
        if request.path_params["cloud"] != self.cloud_name:
            return JSONResponse({"error": {"message": "Invalid cloud_name"}}, status_code=401)
        form = await request.form()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        if params.get("api_key") != self.api_key:
            return JSONResponse({"error": {"message": "Unknown API key"}}, status_code=401)
        if params.get("signature") != self.expected_signature(params):
            return JSONResponse({"error": {"message": "Invalid Signature"}}, status_code=401)
        public_id = params.get("public_id", "")
        if public_id not in self.stored:
            return JSONResponse({"result": "not found"})
        self.stored.discard(public_id)
        self.destroyed.append(public_id)
        return JSONResponse({"result": "ok"})

    def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/v1_1/{cloud}/image/upload", self._upload, methods=["POST"]),
                Route("/v1_1/{cloud}/image/destroy", self._destroy, methods=["POST"]),
            ]
        )
        self._server = ThreadedServer(app, self.port, "Cloudinary contract server")
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
