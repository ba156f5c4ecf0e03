{
  "targets": [
    {
      "target_name": "distill_blas",
      "sources": ["src/blas.c"],
      "cflags": ["-O3", "-std=c11"],
      "libraries": ["-lopenblas"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
