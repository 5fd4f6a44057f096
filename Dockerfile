# syntax=docker/dockerfile:1
# Celeriac: one image for both `celeriac api` (the default command) and `celeriac worker`.
#
#   docker build -t celeriac .
#   docker run --rm -p 8080:8080 -e REDIS_URL=redis://host.docker.internal:6379/0 celeriac
#   docker run --rm -e REDIS_URL=redis://… celeriac worker -c 4 --grace 30
#
# Not built on the machine this was written on (it has no Docker engine); it is linted with hadolint
# (`make lint-deploy`). See deploy/README.md.

# ---- build -------------------------------------------------------------------------------------------
# The official Swift image on Debian 12 (bookworm), so the binary links against the same libraries as the
# runtime stage below. Our toolchain is Swift 6.3.1; `swift:6.3-bookworm` tracks the newest 6.3.x.
# Pass --build-arg SWIFT_IMAGE=swift:6.2-bookworm (or a digest) to pin something else.
ARG SWIFT_IMAGE=swift:6.3-bookworm
FROM ${SWIFT_IMAGE} AS build

# Unpinned on purpose: the base image pins the distribution (bookworm), and pinning exact Debian versions
# breaks the build as soon as a point release or security update replaces them in the archive.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libhiredis-dev libnghttp2-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Dependencies first, so editing our sources does not refetch them.
COPY Package.* ./
RUN swift package resolve

COPY . .
# --static-swift-stdlib links the Swift runtime and Foundation into the binary; what stays dynamic is
# glibc, libstdc++, hiredis and libcurl (the Outbound module: fetch_url, SMTP) — the runtime stage installs those.
RUN swift build -c release --static-swift-stdlib --product celeriac \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/celeriac" /out/celeriac

# ---- runtime -----------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# Run-time libraries only: hiredis (Redis client), libcurl + nghttp2 (HTTPClient/SMTPClient: fetch_url and
# the activation email over STARTTLS/TLS), CA certificates for https and smtps, tzdata for Foundation's
# TimeZone, curl for the HEALTHCHECK.
# Unpinned for the same reason as above (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libhiredis0.14 libnghttp2-14 libcurl4 ca-certificates tzdata curl \
 && rm -rf /var/lib/apt/lists/*

# A fixed, non-root uid/gid (10001) so Kubernetes' runAsNonRoot/runAsUser can check it.
RUN groupadd --system --gid 10001 celeriac \
 && useradd --system --no-log-init --uid 10001 --gid celeriac --home-dir /app --shell /usr/sbin/nologin celeriac \
 && mkdir -p /app/outbox \
 && chown -R celeriac:celeriac /app

COPY --from=build /out/celeriac /usr/local/bin/celeriac

WORKDIR /app
# Workers write activation emails here when SMTP_URL is not set (mount a volume to keep them).
ENV CELERIAC_OUTBOX=/app/outbox
USER 10001:10001

EXPOSE 8080

# /healthz answers while the process is up (/readyz also needs Redis; orchestrators that separate the
# two, like Kubernetes, probe both). Worker containers have no HTTP port: disable the check for them
# (compose: `healthcheck: disable: true`; Kubernetes ignores HEALTHCHECK). `|| exit 1` because Docker
# reserves exit codes other than 0 and 1, and curl fails with 7, 22, 28, ….
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/bin/sh", "-c", "curl -fsS --max-time 2 -o /dev/null http://127.0.0.1:8080/healthz || exit 1"]

# SIGTERM starts the warm shutdown (api: finish in-flight requests; worker: finish in-flight tasks
# within --grace seconds, then hand the rest back to the queue).
STOPSIGNAL SIGTERM
ENTRYPOINT ["celeriac"]
CMD ["api", "--bind", "0.0.0.0:8080"]
