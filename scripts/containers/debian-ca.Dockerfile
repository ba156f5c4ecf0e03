# The debootstrap root plus the host's CA bundle (CI only: see stand-in-images.sh). Kept apart from the system
# bundle, which apt's ca-certificates would rewrite.
ARG BASE
FROM ${BASE}
COPY host-ca.crt /usr/local/share/distill-host-ca.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/distill-host-ca.crt
