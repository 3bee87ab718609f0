# pushgate in an empty image: one static binary, no shell, no libc.
# Build: docker build -t pushgate .
# Run:   docker run -p 9091:9091 -v pushgate-data:/data pushgate
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# musl-tools: musl-gcc compiles ring's C code (rustls' crypto) for musl.
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
 && rustup target add x86_64-unknown-linux-musl \
 && cargo build --release --locked --target x86_64-unknown-linux-musl \
 && mkdir -p /data

FROM scratch
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/pushgate /pushgate
# The persistence directory, owned by the unprivileged user below.
COPY --from=build --chown=65534:65534 /data /data
USER 65534:65534
EXPOSE 9091
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=6s --retries=3 CMD ["/pushgate", "healthcheck"]
ENTRYPOINT ["/pushgate"]
CMD ["--persistence.file=/data/pushgate.db"]
