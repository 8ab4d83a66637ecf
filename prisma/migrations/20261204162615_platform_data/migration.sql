-- CreateTable
CREATE TABLE "platform"."stored_files" (
    "id" TEXT NOT NULL,
    "owner" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "blob_key" TEXT NOT NULL,
    "bucket" TEXT NOT NULL,
    "content_type" TEXT NOT NULL,
    "declared_type" TEXT,
    "size_bytes" BIGINT NOT NULL,
    "sha256" TEXT NOT NULL,
    "md5" TEXT NOT NULL,
    "acl" TEXT NOT NULL DEFAULT 'private',
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "processing" JSONB NOT NULL DEFAULT '{}',
    "thumbnail_key" TEXT,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stored_files_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."storage_daily_transfers" (
    "owner" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "uploads" INTEGER NOT NULL DEFAULT 0,
    "downloads" INTEGER NOT NULL DEFAULT 0,
    "upload_bytes" BIGINT NOT NULL DEFAULT 0,
    "download_bytes" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "storage_daily_transfers_pkey" PRIMARY KEY ("owner","day")
);

-- CreateTable
CREATE TABLE "platform"."secrets" (
    "id" TEXT NOT NULL,
    "owner" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "current_version" INTEGER NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "rotation_policy" TEXT,
    "rotate_after" TIMESTAMPTZ(3),
    "last_rotated_at" TIMESTAMPTZ(3),
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "secrets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "platform"."secret_versions" (
    "secret_id" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "wrapped_key" TEXT NOT NULL,
    "ciphertext" TEXT NOT NULL,
    "fields" TEXT[],
    "ttl_seconds" INTEGER,
    "expires_at" TIMESTAMPTZ(3),
    "created_by" TEXT NOT NULL,
    "origin" TEXT NOT NULL DEFAULT 'set',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "secret_versions_pkey" PRIMARY KEY ("secret_id","version")
);

-- CreateTable
CREATE TABLE "platform"."config_versions" (
    "version" INTEGER NOT NULL,
    "document" JSONB NOT NULL,
    "updated_keys" TEXT[],
    "restart_keys" TEXT[],
    "changed_by" TEXT NOT NULL,
    "request_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "config_versions_pkey" PRIMARY KEY ("version")
);

-- CreateIndex
CREATE INDEX "stored_files_owner_bucket_idx" ON "platform"."stored_files"("owner", "bucket");

-- CreateIndex
CREATE INDEX "stored_files_created_at_idx" ON "platform"."stored_files"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "stored_files_owner_key_key" ON "platform"."stored_files"("owner", "key");

-- CreateIndex
CREATE INDEX "secrets_rotate_after_idx" ON "platform"."secrets"("rotate_after");

-- CreateIndex
CREATE UNIQUE INDEX "secrets_owner_path_key" ON "platform"."secrets"("owner", "path");

-- AddForeignKey
ALTER TABLE "platform"."secret_versions" ADD CONSTRAINT "secret_versions_secret_id_fkey" FOREIGN KEY ("secret_id") REFERENCES "platform"."secrets"("id") ON DELETE CASCADE ON UPDATE CASCADE;
