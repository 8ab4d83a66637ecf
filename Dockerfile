# One image for every process (docker-compose.yml picks the command per service):
#   gateway (default)   node --import tsx bin/gateway.ts
#   one subgraph        SUBGRAPH=<name> PORT=<port> node --import tsx bin/subgraph.ts
#   job worker          node --import tsx bin/worker.ts
#   migrations (once)   node --import tsx scripts/db-migrate.ts
# node itself is the process (tsx only as its loader, no npx or tsx CLI wrapper in between), so
# SIGTERM reaches the graceful shutdown in bin/shutdown.ts directly.
# The variables each one reads are listed in .env.example.
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

WORKDIR /app

# Dependencies first, so a change to the source alone reuses this layer. tsx is a runtime
# dependency, so devDependencies (eslint, vitest, ...) stay out. --ignore-scripts: no dependency
# needs its install script (package.json "allowScripts" turns them all off, but the npm 10 of this
# base image does not read that field); our own postinstall is the step below.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# The postinstall step: generate the Prisma client from the schema (offline; see the script).
COPY prisma.config.ts ./
COPY prisma/schema ./prisma/schema
COPY scripts/prisma-generate.mjs ./scripts/
RUN node scripts/prisma-generate.mjs

COPY . .

# Run as the base image's unprivileged user. The code stays root-owned and read-only to it; only
# the embedded-database folder (DATA_DIR, used when DATABASE_URL is unset) is writable.
RUN mkdir -p .data && chown node:node .data
USER node

EXPOSE 4000
CMD ["node", "--import", "tsx", "bin/gateway.ts"]
