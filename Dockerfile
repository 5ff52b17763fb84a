# syntax=docker/dockerfile:1.7
# One image for every role:  docker run IMAGE run storage | run anomaly | run api | setup | migrate | topics
ARG NODE_VERSION=20.18

# 1. Production dependencies only (no dev tooling in the final image).
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 2. Compile TypeScript (needs the dev dependencies: typescript, @types/*).
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY app ./app
COPY src ./src
COPY producers ./producers
COPY consumers ./consumers
COPY api ./api
COPY ingest ./ingest
# Only the runtime code: tests, benchmarks and scripts are not part of the image.
RUN npx tsc -p tsconfig.build.json

# 3. Runtime: node, compiled JS, production node_modules, Avro schemas and SQL migrations; non-root.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
COPY --chown=root:root schemas ./schemas
COPY --chown=root:root sql ./sql
# The `node` user (uid 1000) owns nothing it runs: code is read-only to it.
USER 1000:1000
EXPOSE 9464 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/app/cli.js"]
CMD ["run"]
