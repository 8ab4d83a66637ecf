-- CreateTable
CREATE TABLE "platform"."system_backups" (
    "id" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "type" TEXT NOT NULL DEFAULT 'manual',
    "includes" TEXT[],
    "compression" TEXT,
    "encrypted" BOOLEAN NOT NULL DEFAULT true,
    "storage_key" TEXT,
    "size_bytes" BIGINT,
    "checksum" TEXT,
    "content_checksum" TEXT,
    "tables" JSONB,
    "job_id" TEXT,
    "error" TEXT,
    "created_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "system_backups_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."system_restores" (
    "id" TEXT NOT NULL,
    "backup_id" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "components" TEXT[],
    "tables" JSONB,
    "job_id" TEXT,
    "error" TEXT,
    "created_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "system_restores_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."security_scans" (
    "id" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "source" TEXT NOT NULL,
    "scan_types" TEXT[],
    "request" JSONB NOT NULL,
    "findings" JSONB,
    "summary" JSONB,
    "job_id" TEXT,
    "error" TEXT,
    "created_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "security_scans_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "system_backups_created_at_idx" ON "platform"."system_backups"("created_at");

-- CreateIndex
CREATE INDEX "system_restores_backup_id_idx" ON "platform"."system_restores"("backup_id");

-- CreateIndex
CREATE INDEX "security_scans_created_at_idx" ON "platform"."security_scans"("created_at");
