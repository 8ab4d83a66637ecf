-- AlterTable
ALTER TABLE "edge"."devices" ADD COLUMN     "applications" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "capabilities" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "connected_at" TIMESTAMPTZ(3),
ADD COLUMN     "device_key" TEXT,
ADD COLUMN     "firmware_version" TEXT,
ADD COLUMN     "groups" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "latitude" DOUBLE PRECISION,
ADD COLUMN     "longitude" DOUBLE PRECISION,
ADD COLUMN     "tags" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "token_hash" TEXT;

-- Devices registered before device keys existed keep their platform id as their key.
UPDATE "edge"."devices" SET "device_key" = "id" WHERE "device_key" IS NULL;
ALTER TABLE "edge"."devices" ALTER COLUMN "device_key" SET NOT NULL;

-- CreateTable
CREATE TABLE "edge"."signing_keys" (
    "tenant_id" TEXT NOT NULL,
    "public_key" TEXT NOT NULL,
    "private_key_sealed" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "signing_keys_pkey" PRIMARY KEY ("tenant_id")
);

-- CreateTable
CREATE TABLE "edge"."artifacts" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "blob_key" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "signature" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "artifacts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "edge"."deployments" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "configuration" JSONB NOT NULL DEFAULT '{}',
    "artifact_id" TEXT,
    "manifest_key" TEXT NOT NULL,
    "manifest_sha256" TEXT NOT NULL,
    "manifest_signature" TEXT NOT NULL,
    "force" BOOLEAN NOT NULL DEFAULT false,
    "rollback_on_failure" BOOLEAN NOT NULL DEFAULT true,
    "phases" JSONB NOT NULL DEFAULT '[100]',
    "current_phase" INTEGER NOT NULL DEFAULT 0,
    "failure_threshold_percent" DOUBLE PRECISION NOT NULL DEFAULT 100,
    "min_executed" INTEGER NOT NULL DEFAULT 1,
    "max_retries" INTEGER NOT NULL DEFAULT 0,
    "status" TEXT NOT NULL,
    "abort_reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "deployments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "edge"."deployment_devices" (
    "deployment_id" TEXT NOT NULL,
    "device_id" TEXT NOT NULL,
    "phase" INTEGER NOT NULL,
    "state" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "message" TEXT,
    "released_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "deployment_devices_pkey" PRIMARY KEY ("deployment_id","device_id")
);

-- CreateTable
CREATE TABLE "edge"."device_samples" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "device_id" TEXT NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "cpu_usage" DOUBLE PRECISION,
    "memory_usage" DOUBLE PRECISION,
    "disk_usage" DOUBLE PRECISION,

    CONSTRAINT "device_samples_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."brands" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "config" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "brands_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."brand_assets" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "content_type" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "sha256" TEXT NOT NULL,
    "blob_key" TEXT NOT NULL,
    "width" INTEGER,
    "height" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "brand_assets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tenancy"."custom_domains" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "domain" TEXT NOT NULL,
    "verification_token" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "ssl_enabled" BOOLEAN NOT NULL DEFAULT true,
    "auto_provision_ssl" BOOLEAN NOT NULL DEFAULT true,
    "verified_at" TIMESTAMPTZ(3),
    "last_checked_at" TIMESTAMPTZ(3),
    "last_check_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "custom_domains_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "artifacts_tenant_id_kind_name_version_key" ON "edge"."artifacts"("tenant_id", "kind", "name", "version");

-- CreateIndex
CREATE INDEX "deployments_tenant_id_created_at_idx" ON "edge"."deployments"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "deployment_devices_device_id_state_idx" ON "edge"."deployment_devices"("device_id", "state");

-- CreateIndex
CREATE INDEX "device_samples_device_id_recorded_at_idx" ON "edge"."device_samples"("device_id", "recorded_at");

-- CreateIndex
CREATE UNIQUE INDEX "brands_tenant_id_name_key" ON "tenancy"."brands"("tenant_id", "name");

-- CreateIndex
CREATE INDEX "brand_assets_tenant_id_created_at_idx" ON "tenancy"."brand_assets"("tenant_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "custom_domains_domain_key" ON "tenancy"."custom_domains"("domain");

-- CreateIndex
CREATE INDEX "custom_domains_tenant_id_idx" ON "tenancy"."custom_domains"("tenant_id");

-- CreateIndex
CREATE UNIQUE INDEX "devices_token_hash_key" ON "edge"."devices"("token_hash");

-- CreateIndex
CREATE UNIQUE INDEX "devices_tenant_id_device_key_key" ON "edge"."devices"("tenant_id", "device_key");
