FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY supportdesk ./supportdesk
COPY timeline ./timeline
COPY routing ./routing
COPY conversations ./conversations
COPY workflows ./workflows
COPY integrations ./integrations
RUN pip install .
COPY . .
# Collecting static files reads no secret: DEBUG on for this one command lets the settings load.
RUN DEBUG=true DATABASE_URL=postgres://unused/unused python manage.py collectstatic --noinput -v0

EXPOSE 8000
CMD ["uvicorn", "supportdesk.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--ws-per-message-deflate", "false"]
