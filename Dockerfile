# Burrow in a container, built from the release artefact (npm run release).
#   docker build -t burrow .
#   docker compose -f deploy/compose.yaml up -d            (Burrow + Caddy with automatic TLS)
# The image runs with production dependencies only, as the unprivileged `node` user, with its
# data (SQLite, blobs, secrets.json) in the /data volume.

# Build stage: dev dependencies exist only here.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run release

# Run stage.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/burrow
COPY --from=build /src/release/ /tmp/release/
RUN echo '{"name":"burrow-site","private":true}' > package.json \
 && npm install --omit=dev --no-audit --no-fund /tmp/release/burrow-*.tgz \
 && rm -rf /tmp/release /root/.npm \
 && mkdir -p /data && chown node:node /data && chmod 0700 /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["node", "-e", "fetch('http://127.0.0.1:8080/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/opt/burrow/node_modules/burrow/dist/cli/main.js"]
# Listening beyond loopback inside the container is safe only behind the TLS proxy that
# BURROW_TRUST_PROXY names (deploy/compose.yaml); `burrow serve` refuses it otherwise.
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--data", "/data"]
