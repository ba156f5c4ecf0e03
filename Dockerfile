# syntax=docker/dockerfile:1
# distill-server images. Targets:
#   runtime (the default, the last stage): the API, `node bin/distill.js serve`; the same image runs a
#                CPU worker with the command `node bin/distill.js worker` (docker-compose.yml does both).
#   migrate:     `npx prisma migrate deploy` with Prisma's schema engine, run once before the API starts.
#   worker-gpu:  a worker on CUDA 11.2 + cuDNN 8.1 that trains with @tensorflow/tfjs-node-gpu.
# The install and build are the commands .ci/run proves on every change: `npm ci` (with package.json's install-script
# policy) and `npm run build` (Prisma client generation, then tsc to dist/).

# The current Node.js LTS line.
ARG NODE_VERSION=26
# @tensorflow/tfjs-node-gpu 4.22.0 calls util.isNullOrUndefined, which Node.js 23 removed: the GPU worker stays on
# the newest LTS line that still has it.
ARG GPU_NODE_VERSION=22
# The npm that wrote package-lock.json and applies package.json's `allowScripts`.
ARG NPM_VERSION=11.19.1

FROM node:${NODE_VERSION}-slim AS base
ARG NPM_VERSION
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false CHECKPOINT_DISABLE=1
RUN npm install -g npm@${NPM_VERSION} && npm cache clean --force
WORKDIR /app

# deps: the dependency tree alone, a layer reused until package-lock.json changes. Our own postinstall (the build)
# needs the sources, so scripts wait for the next stage.
FROM base AS deps
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts

# build: the install scripts `npm ci` would have run: the dependencies' that allowScripts permits, then our own
# postinstall, `npm run build` (Prisma client generation, tsc to dist/).
FROM deps AS build
COPY . .
RUN npm rebuild && test -f dist/cli/main.js

# prod-deps: what the compiled code needs at run time. Prisma's CLI and TypeScript are optional peers of
# @prisma/client, which --omit=dev alone keeps (~260 MB); --omit=optional also drops esbuild's binary (only tsx
# uses it) and msgpackr's native unpacker (BullMQ falls back to JavaScript).
FROM build AS prod-deps
RUN npm prune --omit=dev --omit=optional

# migrate: the Prisma CLI needs its native schema engine, which its package downloads at install time (our
# allowScripts denies that where the download cannot work): fetched here, where the build has network. The engine
# links OpenSSL, which the slim image lacks and Prisma detects to pick the right build.
FROM build AS migrate
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && node node_modules/@prisma/engines/scripts/postinstall.js \
 && npx prisma --version
USER node
CMD ["npx", "prisma", "migrate", "deploy"]

# The files a running process reads: compiled code, the contract it serves, the migrations `distill migrate` applies.
FROM scratch AS app-files
WORKDIR /app
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/package.json /app/openapi.yaml ./

# ---- GPU worker -------------------------------------------------------------------------------------------------
FROM node:${GPU_NODE_VERSION}-bookworm-slim AS gpu-node

FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04 AS gpu-base
ARG NPM_VERSION
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# Node.js from the official image (its binaries need glibc 2.28; Ubuntu 20.04 has 2.31).
COPY --from=gpu-node /usr/local/bin/node /usr/local/bin/node
COPY --from=gpu-node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && npm install -g npm@${NPM_VERSION} && npm cache clean --force \
 && useradd --uid 1000 --user-group --create-home --shell /bin/bash node
WORKDIR /app

FROM gpu-base AS gpu-deps
# tfjs-node-gpu's install script downloads libtensorflow (GPU) and its prebuilt binding; it compiles the binding
# with node-gyp when no prebuilt one fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
RUN npm pkg set 'allowScripts[@tensorflow/tfjs-node-gpu]=true' --json \
 && npm install --omit=dev --omit=optional --no-save --foreground-scripts @tensorflow/tfjs-node-gpu@4.22.0 \
 && node -e "require('@tensorflow/tfjs-node-gpu/package.json')"

FROM gpu-base AS worker-gpu
ENV NODE_ENV=production ARTIFACT_DIR=/var/lib/distill/artifacts \
    TRAINING_BACKEND=tensorflow-gpu TF_FORCE_GPU_ALLOW_GROWTH=true
COPY --from=gpu-deps /app/node_modules ./node_modules
COPY --from=app-files /app ./
RUN mkdir -p /var/lib/distill/artifacts && chown node:node /var/lib/distill/artifacts
USER node
CMD ["node", "bin/distill.js", "worker"]

# ---- API and CPU worker: the last stage, so `docker build .` without --target builds it --------------------------
FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 ARTIFACT_DIR=/var/lib/distill/artifacts
WORKDIR /app
# Code and dependencies belong to root and are read-only to the process, which runs as `node` and writes only
# the artifact directory (a volume in docker-compose.yml).
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=app-files /app ./
RUN mkdir -p /var/lib/distill/artifacts && chown node:node /var/lib/distill/artifacts
USER node
EXPOSE 8080
CMD ["node", "bin/distill.js", "serve"]
