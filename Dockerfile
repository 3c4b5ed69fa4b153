# syntax=docker/dockerfile:1
#
# Images of dfctl and of the example workers (examples/cmd), both static
# binaries run by a user without privileges:
#
#   docker build --target dfctl    -t durablefuture/dfctl .
#   docker build --target examples -t durablefuture/examples .
#
# deploy/compose.yaml builds and runs both against a 3-node NATS cluster.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so that a source change reuses the download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
RUN go build -ldflags="-s -w" -o /out/dfctl ./cmd/dfctl \
 && go build -ldflags="-s -w" -o /out/examples ./examples/cmd

# The runtime has a shell (compose's one-shot init uses it) and nothing
# else the binaries need: they are static.
FROM alpine:3.22 AS runtime
RUN adduser -D -H -u 10001 durablefuture
USER 10001:10001
ENV NATS_URL=nats://nats:4222

FROM runtime AS examples
COPY --from=build /out/examples /usr/local/bin/examples
ENTRYPOINT ["examples"]
CMD ["--worker"]

# Last, so that a plain `docker build .` gives dfctl.
FROM runtime AS dfctl
COPY --from=build /out/dfctl /usr/local/bin/dfctl
EXPOSE 8080
ENTRYPOINT ["dfctl"]
CMD ["web", "--addr", "0.0.0.0:8080"]
