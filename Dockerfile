# The engine's image: one image, three roles (`styletrial db upgrade`, `styletrial worker`, `styletrial api`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml ./
COPY domain domain
COPY workflows workflows
COPY activities activities
COPY client client
COPY cli cli
COPY persistence persistence
COPY migrations migrations
COPY api api
COPY security security
COPY worker.py bootstrap.py config.py alembic.ini ./
RUN pip install . && rm -rf build

# Never root; the data folder is only used by the local stack, but keep it writable.
RUN useradd --uid 10001 --no-create-home styletrial && mkdir -p /app/data && chown styletrial /app/data
USER 10001
ENTRYPOINT ["styletrial"]
CMD ["worker"]
