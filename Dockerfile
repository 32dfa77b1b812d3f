# The probe as a container image, for one run per task (terraform-example/modules/probe-schedule: EventBridge
# Scheduler starts an ECS Fargate task per tick) or for `probe monitor` on a container host.
#
#   docker build -t cognito-delivery-probe .
#   docker run --rm --read-only --tmpfs /tmp -e AWS_REGION=us-east-1 cognito-delivery-probe --probe production
#
# The image holds the binary and the repository's probe files (/etc/probe/probes); mount your own over that
# directory, or edit probes/ and rebuild. It runs as a non-root user and works with a read-only root
# filesystem: a one-shot run (`--format emf`, `--tick-table`) writes nothing at all; the probe writes only
# where it is told to (`--state FILE`, `probe monitor --state`), so put those under /tmp or a mounted volume.
# No secret is built in: secrets arrive at run time from the probe files' sources (Secrets Manager, an
# environment variable the task definition fills from Secrets Manager or SSM, a mounted file).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The whole workspace (the product links the twin for `probe demo`); .dockerignore keeps target/ and the
# like out of the context.
COPY . .
RUN cargo build --release --locked --bin probe \
    && cp target/release/probe /usr/local/bin/probe

# distroless cc: glibc, libgcc and the CA bundle (the probe's HTTPS clients trust the system roots), no shell,
# no package manager; the nonroot variant runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/probe /usr/local/bin/probe
COPY probes/ /etc/probe/probes/
USER nonroot:nonroot
WORKDIR /tmp
ENTRYPOINT ["probe"]
# `docker run <image>` runs probes/production.toml once; pass the whole argument list to run another.
CMD ["--probe", "production", "--probes", "/etc/probe/probes", "--format", "emf"]
