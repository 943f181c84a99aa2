# The engine's image: one image, three roles (`styletrial db upgrade`, `styletrial worker`, `styletrial api`).
# Two stages: the first builds a virtualenv from requirements.lock (exact versions, hashes checked) and the
# project's wheel; the second is a slim runtime with only that virtualenv. No Temporal dev server, no test
# tools: those are the `dev` extra, which the image never installs. The build context is an allowlist
# (.dockerignore).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first, so a code change does not reinstall them.
COPY requirements.lock ./
RUN python -m venv /opt/styletrial && /opt/styletrial/bin/pip install --require-hashes -r requirements.lock
COPY . .
RUN /opt/styletrial/bin/pip install --no-deps . && rm -rf build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/styletrial/bin:$PATH \
    STYLETRIAL_LOG_FORMAT=json STYLETRIAL_DATA_DIR=/app/data
COPY --from=build /opt/styletrial /opt/styletrial
# Never root. The data folder is only used by the embedded defaults; keep it writable anyway.
RUN useradd --uid 10001 --no-create-home styletrial && mkdir -p /app/data && chown 10001 /app/data
WORKDIR /app
USER 10001
# The API's readiness (Temporal and the database answer). Compose gives the worker a check of its own (its
# metrics port) and the migration job none.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["styletrial", "healthcheck", "http://127.0.0.1:8000/readyz"]
ENTRYPOINT ["styletrial"]
CMD ["worker"]
