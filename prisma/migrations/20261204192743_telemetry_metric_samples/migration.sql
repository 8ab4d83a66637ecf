-- CreateTable
CREATE TABLE "telemetry"."metric_samples" (
    "id" BIGSERIAL NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL,
    "instance" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "tenant_id" TEXT,
    "labels" JSONB NOT NULL DEFAULT '{}',
    "value" DOUBLE PRECISION NOT NULL,
    "count" DOUBLE PRECISION NOT NULL DEFAULT 1,
    "min" DOUBLE PRECISION,
    "max" DOUBLE PRECISION,
    "buckets" DOUBLE PRECISION[],

    CONSTRAINT "metric_samples_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "metric_samples_name_recorded_at_idx" ON "telemetry"."metric_samples"("name", "recorded_at");

-- CreateIndex
CREATE INDEX "metric_samples_tenant_id_name_recorded_at_idx" ON "telemetry"."metric_samples"("tenant_id", "name", "recorded_at");

-- CreateIndex
CREATE INDEX "metric_samples_recorded_at_idx" ON "telemetry"."metric_samples"("recorded_at");
