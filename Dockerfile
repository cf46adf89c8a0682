# renhice server image: built from this repository, configured through RENHICE_* variables.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin renhice

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/renhice renhice
COPY --from=build /src/target/release/renhice /usr/local/bin/renhice
USER renhice
WORKDIR /var/lib/renhice
# Inside a container the server must listen on all interfaces; publish the port with care.
# Listening beyond loopback needs HTTPS (RENHICE_TLS_CERT_FILE, RENHICE_TLS_KEY_FILE) or,
# behind a TLS-terminating proxy on a private network, RENHICE_PLAIN_HTTP_OFF_LOOPBACK=true.
ENV RENHICE_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["renhice"]
CMD ["serve"]
