# Stand-in for node:22-bookworm-slim (CI only: see stand-in-images.sh): Node.js under /usr/local with its headers
# (node-gyp builds against them), npm and npx, and a node user with uid 1000, as in the official image.
FROM distill-standin/debian-ca:bookworm
COPY node/ /usr/local/
COPY npm/ /usr/local/lib/node_modules/npm/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
CMD ["node"]
