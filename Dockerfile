# One image for every process: web, worker, scheduler (and the migrate step).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    IGNITE_ENV=production \
    IGNITE_DATA_DIR=/srv/ignite/data \
    SHARED_FILES_DIR=/srv/ignite/shared \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /srv/ignite

COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
COPY static ./static
# The shared directory exists in the image, owned by ignite, so a new volume mounted there takes that owner.
RUN pip install . && useradd --system --home /srv/ignite ignite \
    && mkdir -p /srv/ignite/data /srv/ignite/shared && chown -R ignite /srv/ignite

USER ignite
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health').status == 200 else 1)"
CMD ["ignite", "web"]
