# Stand-in for redis:7-alpine: Debian bookworm's redis-server 7.0 from
# Debian's archive, started the way the official image starts it: WORKDIR
# and VOLUME /data, as the redis user, with protected mode off (the official
# image compiles it off: other containers must reach it).
FROM finflow-standin/debian:bookworm
RUN echo "deb http://deb.debian.org/debian bookworm main" >/etc/apt/sources.list \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
