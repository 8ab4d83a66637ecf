-- CreateTable
CREATE TABLE "platform"."webhook_endpoints" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "description" TEXT,
    "event_types" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "secret" TEXT NOT NULL,
    "previous_secret" TEXT,
    "previous_secret_expires_at" TIMESTAMPTZ(3),
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "disabled_reason" TEXT,
    "disabled_at" TIMESTAMPTZ(3),
    "failure_streak" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "webhook_endpoints_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."webhook_events" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."webhook_deliveries" (
    "id" TEXT NOT NULL,
    "event_id" TEXT NOT NULL,
    "endpoint_id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempt_count" INTEGER NOT NULL DEFAULT 0,
    "run_start" INTEGER NOT NULL DEFAULT 1,
    "next_attempt_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."webhook_attempts" (
    "id" TEXT NOT NULL,
    "delivery_id" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "trigger" TEXT NOT NULL,
    "status_code" INTEGER,
    "error" TEXT,
    "response_body" TEXT,
    "duration_ms" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."certificate_authorities" (
    "id" TEXT NOT NULL,
    "common_name" TEXT NOT NULL,
    "certificate_pem" TEXT NOT NULL,
    "private_key" TEXT NOT NULL,
    "serial_number" TEXT NOT NULL,
    "not_before" TIMESTAMPTZ(3) NOT NULL,
    "not_after" TIMESTAMPTZ(3) NOT NULL,
    "crl_number" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "certificate_authorities_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."issued_certificates" (
    "id" TEXT NOT NULL,
    "serial_number" TEXT NOT NULL,
    "service_name" TEXT NOT NULL,
    "common_name" TEXT NOT NULL,
    "san" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "key_usage" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "extended_key_usage" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "not_before" TIMESTAMPTZ(3) NOT NULL,
    "not_after" TIMESTAMPTZ(3) NOT NULL,
    "certificate_pem" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),
    "revocation_reason" TEXT,
    "issued_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "issued_certificates_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."mesh_services" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "endpoints" TEXT[],
    "health_check_path" TEXT,
    "health_check_interval_s" INTEGER NOT NULL,
    "policies" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'unknown',
    "last_checked_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "last_latency_ms" INTEGER,
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    "registered_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "mesh_services_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."extensions" (
    "id" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "category" TEXT NOT NULL,
    "publisher" TEXT,
    "latest_version" TEXT NOT NULL,
    "install_count" INTEGER NOT NULL DEFAULT 0,
    "published_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "extensions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."extension_versions" (
    "id" TEXT NOT NULL,
    "extension_id" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "manifest" JSONB NOT NULL,
    "permissions" TEXT[],
    "package_key" TEXT NOT NULL,
    "package_sha256" TEXT NOT NULL,
    "package_size" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "extension_versions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."extension_installs" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "extension_id" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "configuration" JSONB NOT NULL,
    "sealed_secrets" TEXT,
    "secret_keys" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "granted_permissions" TEXT[],
    "granted_by" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'active',
    "installed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "extension_installs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "webhook_endpoints_tenant_id_idx" ON "platform"."webhook_endpoints"("tenant_id");

-- CreateIndex
CREATE INDEX "webhook_events_tenant_id_created_at_idx" ON "platform"."webhook_events"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "webhook_deliveries_endpoint_id_created_at_idx" ON "platform"."webhook_deliveries"("endpoint_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_deliveries_event_id_endpoint_id_key" ON "platform"."webhook_deliveries"("event_id", "endpoint_id");

-- CreateIndex
CREATE UNIQUE INDEX "webhook_attempts_delivery_id_number_key" ON "platform"."webhook_attempts"("delivery_id", "number");

-- CreateIndex
CREATE UNIQUE INDEX "issued_certificates_serial_number_key" ON "platform"."issued_certificates"("serial_number");

-- CreateIndex
CREATE INDEX "issued_certificates_service_name_idx" ON "platform"."issued_certificates"("service_name");

-- CreateIndex
CREATE UNIQUE INDEX "mesh_services_name_key" ON "platform"."mesh_services"("name");

-- CreateIndex
CREATE UNIQUE INDEX "extensions_slug_key" ON "platform"."extensions"("slug");

-- CreateIndex
CREATE INDEX "extensions_category_idx" ON "platform"."extensions"("category");

-- CreateIndex
CREATE UNIQUE INDEX "extension_versions_extension_id_version_key" ON "platform"."extension_versions"("extension_id", "version");

-- CreateIndex
CREATE INDEX "extension_installs_extension_id_idx" ON "platform"."extension_installs"("extension_id");

-- CreateIndex
CREATE UNIQUE INDEX "extension_installs_tenant_id_extension_id_key" ON "platform"."extension_installs"("tenant_id", "extension_id");

-- AddForeignKey
ALTER TABLE "platform"."webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "platform"."webhook_events"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "platform"."webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_endpoint_id_fkey" FOREIGN KEY ("endpoint_id") REFERENCES "platform"."webhook_endpoints"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "platform"."webhook_attempts" ADD CONSTRAINT "webhook_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "platform"."webhook_deliveries"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "platform"."extension_versions" ADD CONSTRAINT "extension_versions_extension_id_fkey" FOREIGN KEY ("extension_id") REFERENCES "platform"."extensions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "platform"."extension_installs" ADD CONSTRAINT "extension_installs_extension_id_fkey" FOREIGN KEY ("extension_id") REFERENCES "platform"."extensions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
