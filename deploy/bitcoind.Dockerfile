# syntax=docker/dockerfile:1
# bitcoind (regtest) for the compose stack, built from source with the project's own
# scripts/build-bitcoind.sh (Bitcoin Core as vendored by the libbitcoinkernel-sys crate):
# no prebuilt binary is downloaded. The first build takes 10-15 minutes on 2 cores.

FROM rust:1-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake pkg-config g++ libboost-dev libevent-dev python3 \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/build-bitcoind.sh /src/scripts/build-bitcoind.sh
RUN SWITCHYARD_BITCOIND_DIR=/opt/bitcoind /src/scripts/build-bitcoind.sh

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libevent-2.1-7 libevent-extra-2.1-7 libevent-pthreads-2.1-7 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10002 --user-group --home-dir /var/lib/bitcoind --create-home \
       --shell /usr/sbin/nologin bitcoin
COPY --from=build /opt/bitcoind/bin/bitcoind /opt/bitcoind/bin/bitcoin-cli /usr/local/bin/
USER 10002:10002
VOLUME ["/var/lib/bitcoind"]
EXPOSE 18443 18444
ENTRYPOINT ["bitcoind", "-datadir=/var/lib/bitcoind", "-printtoconsole"]
CMD ["-regtest"]
