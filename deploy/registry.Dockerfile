# Debian's docker-registry (the distribution registry): the registry the hosts share, so any
# host runs an image another built. Plain HTTP: keep it on a network only the hosts reach.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends docker-registry \
 && rm -rf /var/lib/apt/lists/*
EXPOSE 5000
CMD ["docker-registry", "serve", "/etc/docker/registry/config.yml"]
