-- ONNX teachers (issue 18): a model's format, and what an ONNX model expects as declared at upload.
-- CreateEnum
CREATE TYPE "ModelFormat" AS ENUM ('tfjs', 'onnx');

-- AlterTable
ALTER TABLE "models" ADD COLUMN "format" "ModelFormat" NOT NULL DEFAULT 'tfjs',
ADD COLUMN "onnx_input" JSONB;
