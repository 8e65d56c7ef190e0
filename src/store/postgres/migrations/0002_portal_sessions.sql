CREATE TABLE "portal_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"read_only" boolean NOT NULL,
	"link_hash" text NOT NULL,
	"link_expires_at" bigint NOT NULL,
	"session_hash" text,
	"expires_at" bigint NOT NULL,
	"return_url" text,
	"created_by" text NOT NULL,
	"created_at" bigint NOT NULL,
	"used_at" bigint,
	"revoked_at" bigint
);
--> statement-breakpoint
ALTER TABLE "portal_sessions" ADD CONSTRAINT "portal_sessions_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "portal_sessions_link" ON "portal_sessions" USING btree ("link_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "portal_sessions_session" ON "portal_sessions" USING btree ("session_hash");--> statement-breakpoint
CREATE INDEX "portal_sessions_expires" ON "portal_sessions" USING btree ("expires_at");