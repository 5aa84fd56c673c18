# licet-server and the licet CLI in a container: built in one stage, run in a small one as a
# user without privileges, with the data directory as a volume.
#
#   docker build -t licet-server .
#   docker run -d --name licet -p 47293:47293 -v licet-data:/var/lib/licet licet-server
#   docker logs licet            # the bootstrap admin key, printed once on the first start
#   docker exec -e LICET_BACKUP_PASSPHRASE licet licet-server backup --to /backups/licet.backup
#                                # with a volume mounted at /backups (never inside the data one)
#
# Settings are LICET_* environment variables (docs/server.md). The port speaks plain HTTP unless
# LICET_TLS_CERT and LICET_TLS_KEY name a mounted certificate; put TLS in front otherwise.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p licet-server -p licet-tools \
 && install -m 0755 target/release/licet-server target/release/licet /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/licet --shell /usr/sbin/nologin licet \
 && install -d -m 0700 -o licet -g licet /var/lib/licet
COPY --from=build /usr/local/bin/licet-server /usr/local/bin/licet /usr/local/bin/
USER 10001:10001
ENV LICET_DATA=/var/lib/licet \
    LICET_LISTEN=0.0.0.0:47293 \
    LICET_LOG_FORMAT=json
VOLUME ["/var/lib/licet"]
EXPOSE 47293
# SIGTERM lets requests in flight finish and flushes the store (give `docker stop -t 45`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/licet-server"]
