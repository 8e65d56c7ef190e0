# webhookd: one self-contained binary on a slim base.
#   docker build -t webhookd .
#   docker run -p 8080:8080 -v webhookd-data:/data webhookd

FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile
COPY tsconfig.json bunfig.toml ./
COPY src ./src
RUN bun run build && ./webhookd --version

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data webhookd \
 && mkdir -p /data && chown webhookd /data
COPY --from=build /src/webhookd /usr/local/bin/webhookd
USER webhookd
ENV WEBHOOKD_DATA_DIR=/data WEBHOOKD_HOST=0.0.0.0 WEBHOOKD_PORT=8080
VOLUME /data
EXPOSE 8080
# The port from the environment: a container run with another WEBHOOKD_PORT is checked there.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s CMD curl -fsS "http://127.0.0.1:${WEBHOOKD_PORT}/healthz" || exit 1
ENTRYPOINT ["/usr/local/bin/webhookd"]
CMD ["serve"]
