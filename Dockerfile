# Wharf, the console itself. Run (the operator mounts the Docker socket):
#   docker run -d --name wharf -p 127.0.0.1:8000:8000 -v wharf-data:/data \
#     -v /var/run/docker.sock:/var/run/docker.sock --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -e WHARF_ALLOWED_HOSTS=wharf.example.com wharf
# Build arguments: BASE, any image with python3 >= 3.11 and its venv module (tests/test_dockerfile.py
# builds on a Debian made with debootstrap); PIP_ARGS, extra pip options (e.g. a local wheelhouse:
# "--no-index --find-links http://127.0.0.1:PORT/ --trusted-host 127.0.0.1" with --network host).
ARG BASE=python:3.11-slim
FROM ${BASE}
ARG PIP_ARGS=""
ENV PYTHONUNBUFFERED=1 WHARF_DATA_DIR=/data WHARF_BIND=0.0.0.0
WORKDIR /app
COPY requirements.txt .
ENV PATH=/venv/bin:$PATH
RUN python3 -m venv /venv && pip install --no-cache-dir --disable-pip-version-check $PIP_ARGS -r requirements.txt
COPY manage.py ./
COPY console console
COPY templates templates
COPY static static
RUN useradd --system --uid 10001 --home /app wharf && mkdir -m 700 /data && chown wharf /data
# Non-root: access to the Docker socket comes from --group-add with the socket's group.
USER wharf
VOLUME /data
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --noinput -v0 && python manage.py setup && exec python -m console.server -b 0.0.0.0 -p 8000"]
