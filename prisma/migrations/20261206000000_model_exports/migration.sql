-- A model's ONNX exports made on request and kept beside it (file name -> bytes): the tenant's storage counts them.
-- AlterTable
ALTER TABLE "models" ADD COLUMN "exports" JSONB NOT NULL DEFAULT '{}';
