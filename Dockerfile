# syntax=docker/dockerfile:1
# Build stage: make the wheel from the source tree.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build
COPY pyproject.toml README.md LICENSE CHANGELOG.md ./
COPY contacts_kit ./contacts_kit
COPY migrations ./migrations
RUN python -m build --wheel --outdir /dist

# Runtime stage: the wheel and its extras in a virtualenv, run by an unprivileged user.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:$PATH" \
    WORKERS=2
RUN python -m venv /opt/venv \
    && groupadd --system app && useradd --system --gid app --home-dir /app --create-home app
COPY --from=build /dist/*.whl /tmp/
RUN wheel=$(ls /tmp/*.whl) \
    && pip install --no-cache-dir "${wheel}[serve,redis,smtp,cloudinary]" \
    && rm /tmp/*.whl
WORKDIR /app
USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# The X-Forwarded-For of a reverse proxy is believed only from CONTACTS_KIT_TRUSTED_PROXIES.
CMD ["sh", "-c", "exec contacts-kit serve --host 0.0.0.0 --port 8000 --workers ${WORKERS}"]
