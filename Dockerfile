# oanm's image: the web server, the Celery worker and beat all run from it
# (docker-compose.yml). GDAL comes from Debian; Python packages are the pinned ones.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        gdal-bin libgdal-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
RUN useradd --system --create-home --home-dir /home/oanm --shell /usr/sbin/nologin oanm \
    && mkdir -p staticfiles media \
    && chown -R oanm:oanm staticfiles media
USER oanm

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2", \
     "--no-control-socket", "--access-logfile", "-"]
