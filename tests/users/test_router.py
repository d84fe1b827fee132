"""Avatar upload, to the local disk and to a server that speaks Cloudinary's upload API."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contacts_kit.images import clean_copy, identify
from tests.cloudinary_server import CloudinaryServer
from tests.conftest import PASSWORD, Harness, RunningApp, auth_headers, make_settings
from tests.threads import calls_on_this_thread
from tests.users.images import metadata_of, photo_with_metadata, png_bytes

URL = "/api/users/me/avatar"


async def _upload(
    client: httpx.AsyncClient, headers: dict[str, str], data: bytes, content_type: str = "image/png"
) -> httpx.Response:
    return await client.patch(URL, files={"file": ("avatar", data, content_type)}, headers=headers)


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(client, "alice@example.com")


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP", "GIF"])
async def test_a_real_image_becomes_the_avatar_served_from_disk(
    harness: Harness, alice: dict[str, str], kind: str
) -> None:
    data = png_bytes(kind=kind)
    response = await _upload(harness.client, alice, data, "application/octet-stream")
    assert response.status_code == 200, response.text
    avatar_url = response.json()["avatar_url"]
    assert avatar_url.startswith("http://testserver/api/media/avatars/")
    served = await harness.client.get(avatar_url)
    assert served.status_code == 200
    # Re-encoded from its pixels: the same picture, in the same format.
    assert metadata_of(served.content)["format"] == kind
    assert metadata_of(served.content)["size"] == metadata_of(data)["size"]
    me = await harness.client.get("/api/users/me", headers=alice)
    assert me.json()["avatar_url"] == avatar_url


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (b"just some text, honestly", "image/png"),
        (b"\x89PNG\r\n\x1a\n" + os.urandom(2048), "image/png"),
        (png_bytes()[:40], "image/png"),
        (b"%PDF-1.7\n" + b"0" * 100, "application/pdf"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
    ],
    ids=["text", "png-header-on-random-bytes", "truncated-png", "pdf", "svg"],
)
async def test_anything_but_a_real_image_is_415_and_changes_nothing(
    harness: Harness, alice: dict[str, str], data: bytes, declared: str
) -> None:
    response = await _upload(harness.client, alice, data, declared)
    assert response.status_code == 415
    assert response.json()["code"] == "UNSUPPORTED_IMAGE"
    assert (await harness.client.get("/api/users/me", headers=alice)).json()["avatar_url"] is None


async def test_an_oversized_avatar_is_413(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, avatar_max_bytes=4096)
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "big@example.com")
        big = png_bytes(size=(100, 100), noise=True)
        assert len(big) > 4096
        with_length = await _upload(running.client, headers, big)
        assert with_length.status_code == 413

        async def chunks() -> AsyncIterator[bytes]:
            # No Content-Length: the limit is enforced while the body streams in.
            boundary = b"--xyz\r\n"
            yield boundary + b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n'
            yield b"Content-Type: image/png\r\n\r\n"
            for _ in range(100):
                yield os.urandom(1024)
            yield b"\r\n--xyz--\r\n"

        streamed = await running.client.patch(
            URL,
            content=chunks(),
            headers={**headers, "content-type": "multipart/form-data; boundary=xyz"},
        )
        assert streamed.status_code == 413
        me = await running.client.get("/api/users/me", headers=headers)
        assert me.json()["avatar_url"] is None


async def test_upload_needs_a_token_and_a_file(client: httpx.AsyncClient) -> None:
    assert (
        await client.patch(URL, files={"file": ("a", png_bytes(), "image/png")})
    ).status_code == 401
    headers = await auth_headers(client, "nofile@example.com")
    assert (await client.patch(URL, headers=headers)).status_code == 422
    wrong_field = await client.patch(
        URL, files={"picture": ("a", png_bytes(), "image/png")}, headers=headers
    )
    assert wrong_field.status_code == 422


@pytest.fixture
def cloudinary() -> Iterator[CloudinaryServer]:
    server = CloudinaryServer()
    server.start()
    yield server
    server.stop()


async def _cloudinary_app(database_url: str, tmp_path: Path, server: CloudinaryServer) -> Any:
    return RunningApp(make_settings(database_url, tmp_path, cloudinary_url=server.url))


async def test_avatars_go_to_cloudinary_signed_and_come_back_as_a_250px_fill_url(
    database_url: str, tmp_path: Path, cloudinary: CloudinaryServer
) -> None:
    async with await _cloudinary_app(database_url, tmp_path, cloudinary) as running:
        headers = await auth_headers(running.client, "cloud@example.com")
        data = png_bytes()
        response = await _upload(running.client, headers, data)
        assert response.status_code == 200, response.text
        upload = cloudinary.uploads[-1]
        params = upload["params"]
        assert metadata_of(upload["bytes"])["size"] == metadata_of(data)["size"]
        assert params["api_key"] == cloudinary.api_key
        assert params["timestamp"].isdigit()
        assert params["signature"] == cloudinary.expected_signature(params)
        assert cloudinary.api_secret not in str(params)
        me = (await running.client.get("/api/users/me", headers=headers)).json()
        assert params["public_id"].startswith(f"avatars/{me['id']}/")
        url = response.json()["avatar_url"]
        assert url.startswith(f"https://res.cloudinary.com/{cloudinary.cloud_name}/image/upload/")
        assert "c_fill,h_250,w_250" in url
        assert f"/v{1_700_000_000 + len(cloudinary.uploads)}/" in url
        assert url.endswith(params["public_id"])


async def test_a_cloudinary_error_is_502_and_the_old_avatar_stays(
    database_url: str, tmp_path: Path, cloudinary: CloudinaryServer
) -> None:
    async with await _cloudinary_app(database_url, tmp_path, cloudinary) as running:
        headers = await auth_headers(running.client, "keep@example.com")
        first = await _upload(running.client, headers, png_bytes())
        assert first.status_code == 200
        cloudinary.fail_with = (400, "Invalid image file")
        failed = await _upload(running.client, headers, png_bytes(size=(9, 9)))
        assert failed.status_code == 502
        assert failed.json()["code"] == "STORAGE_FAILED"
        assert "Invalid image file" in failed.json()["detail"]
        me = await running.client.get("/api/users/me", headers=headers)
        assert me.json()["avatar_url"] == first.json()["avatar_url"]


async def test_a_wrong_cloudinary_secret_is_502(
    database_url: str, tmp_path: Path, cloudinary: CloudinaryServer
) -> None:
    settings = make_settings(
        database_url, tmp_path, cloudinary_url=cloudinary.url.replace("contract-secret", "guess")
    )
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "wrong@example.com")
        response = await _upload(running.client, headers, png_bytes())
        assert response.status_code == 502
        assert "Invalid Signature" in response.json()["detail"]
        assert "guess" not in response.text


def test_the_cloudinary_url_is_parsed_with_its_options() -> None:
    from contacts_kit.backends.storage_cloudinary import parse_cloudinary_url
    from contacts_kit.errors import ConfigurationError

    options = parse_cloudinary_url(
        "cloudinary://key:s%40cret@cloud?upload_prefix=http://x&secure=true"
    )
    assert options == {
        "cloud_name": "cloud",
        "api_key": "key",
        "api_secret": "s@cret",
        "upload_prefix": "http://x",
        "secure": True,
    }
    with pytest.raises(ConfigurationError):
        parse_cloudinary_url("https://key:secret@cloud")


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
async def test_no_metadata_of_an_upload_is_stored_or_served(
    harness: Harness, alice: dict[str, str], kind: str
) -> None:
    photo = photo_with_metadata(kind)
    assert metadata_of(photo)["gps"]  # the upload does carry a position
    response = await _upload(harness.client, alice, photo)
    assert response.status_code == 200, response.text
    served = (await harness.client.get(response.json()["avatar_url"])).content
    stored = next(
        harness.kit.settings.media_dir.rglob(f"*.{'jpg' if kind == 'JPEG' else kind.lower()}")
    )
    for data in (served, stored.read_bytes()):
        found = metadata_of(data)
        assert (found["exif"], found["gps"], found["icc"], found["xmp"]) == ({}, {}, None, None)
        assert found["size"] == (20, 40)  # the orientation tag was applied, then dropped
    for secret in (b"PhoneMaker", b"Pocket 12", b"Secret Place"):
        assert secret not in served


async def test_a_replaced_or_deleted_avatar_is_removed_and_404(
    harness: Harness, alice: dict[str, str]
) -> None:
    first = (await _upload(harness.client, alice, png_bytes())).json()["avatar_url"]
    second = (await _upload(harness.client, alice, png_bytes(size=(9, 9)))).json()["avatar_url"]
    assert (await harness.client.get(first)).status_code == 404
    assert (await harness.client.get(second)).status_code == 200
    assert len(list(harness.kit.settings.media_dir.rglob("*.png"))) == 1
    deleted = await harness.client.request(
        "DELETE", "/api/users/me", json={"password": PASSWORD}, headers=alice
    )
    assert deleted.status_code == 204
    assert (await harness.client.get(second)).status_code == 404
    assert list(harness.kit.settings.media_dir.rglob("*.png")) == []


async def test_cloudinary_destroys_a_replaced_avatar_and_a_deleted_accounts(
    database_url: str, tmp_path: Path, cloudinary: CloudinaryServer
) -> None:
    async with await _cloudinary_app(database_url, tmp_path, cloudinary) as running:
        headers = await auth_headers(running.client, "cloud-gone@example.com")
        assert (await _upload(running.client, headers, png_bytes())).status_code == 200
        assert (await _upload(running.client, headers, png_bytes(size=(7, 7)))).status_code == 200
        first, second = (upload["params"]["public_id"] for upload in cloudinary.uploads)
        assert cloudinary.destroyed == [first]
        deleted = await running.client.request(
            "DELETE", "/api/users/me", json={"password": PASSWORD}, headers=headers
        )
        assert deleted.status_code == 204
        assert cloudinary.destroyed == [first, second]
        assert cloudinary.stored == set()


async def test_an_image_of_too_many_pixels_is_413_too_large_not_damaged(
    harness: Harness, alice: dict[str, str]
) -> None:
    # 8000x8000 of one colour: a small file that decodes to 64 million pixels.
    response = await _upload(harness.client, alice, png_bytes(size=(8000, 8000)))
    assert response.status_code == 413, response.text
    assert "8000x8000 pixels" in response.json()["detail"]
    assert "damaged" not in response.json()["detail"]


async def test_parallel_uploads_then_a_deletion_leave_no_file(
    harness: Harness, alice: dict[str, str]
) -> None:
    media = harness.kit.settings.media_dir
    uploads = await asyncio.gather(
        *(_upload(harness.client, alice, png_bytes(size=(10 + n, 10))) for n in range(8))
    )
    assert [response.status_code for response in uploads] == [200] * 8
    kept = list(media.rglob("*.png"))
    assert len(kept) == 1  # each upload removed the file it replaced
    me = await harness.client.get("/api/users/me", headers=alice)
    assert me.json()["avatar_url"].endswith(kept[0].name)

    racing = [_upload(harness.client, alice, png_bytes(size=(30 + n, 10))) for n in range(8)]
    deletion = harness.client.request(
        "DELETE", "/api/users/me", json={"password": PASSWORD}, headers=alice
    )
    *answers, deleted = await asyncio.gather(*racing, deletion)
    assert deleted.status_code == 204, deleted.text
    # Uploads before the deletion replaced each other; those after it found no account.
    assert {response.status_code for response in answers} <= {200, 401, 410}
    assert list(media.rglob("*.png")) == []


async def test_an_avatar_is_re_encoded_off_the_event_loop(
    harness: Harness, alice: dict[str, str]
) -> None:
    with calls_on_this_thread(clean_copy, identify) as on_the_loop:
        response = await _upload(harness.client, alice, png_bytes(size=(64, 64)))
    assert response.status_code == 200
    assert on_the_loop == []
    with calls_on_this_thread(clean_copy, identify) as here:  # it does see them on this thread
        clean_copy(png_bytes())
    assert here == ["clean_copy", "identify"]
