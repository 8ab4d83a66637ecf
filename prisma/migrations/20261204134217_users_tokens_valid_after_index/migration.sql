-- CreateIndex
CREATE INDEX "users_tokens_valid_after_idx" ON "identity"."users"("tokens_valid_after");
