FROM python:3.13-slim

WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app ./app
# Without MONGODB_URI the image runs on the embedded store: its data dir must be writable.
RUN pip install --no-cache-dir . && useradd --system --uid 10001 gateway \
    && mkdir -p /srv/data && chown gateway /srv/data
VOLUME /srv/data
USER gateway
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["profile-gateway", "serve", "--host", "0.0.0.0", "--port", "8000"]
