# pump as a container: `docker compose --profile replay up pump` replays a mounted file.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pump ./pump
RUN pip install --no-cache-dir . && useradd --create-home pump
USER pump
EXPOSE 9464
ENTRYPOINT ["pump"]
CMD ["--help"]
