# Healthboard image: one image for web (gunicorn), worker and beat (Celery); see docker-compose.yml.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=healthboard.settings_production \
    HEALTHBOARD_VAR_DIR=/app/var

WORKDIR /app
RUN groupadd --system --gid 1000 healthboard \
    && useradd --system --uid 1000 --gid healthboard --home-dir /app --no-create-home healthboard

# Dependencies first (from pyproject.toml's [project] dependencies), so code changes reuse this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The app runs from its source tree (templates/ and static/ live beside the packages).
COPY . .
# Static files (incl. plotly.js and htmx from their packages) for WhiteNoise; the key is build-only.
RUN SECRET_KEY="build-only-$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
        python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/var \
    && chown -R healthboard:healthboard /app/var

USER healthboard
EXPOSE 8000
CMD ["gunicorn", "healthboard.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
