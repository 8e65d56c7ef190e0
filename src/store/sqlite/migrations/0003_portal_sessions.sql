CREATE TABLE `portal_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`read_only` integer NOT NULL,
	`link_hash` text NOT NULL,
	`link_expires_at` integer NOT NULL,
	`session_hash` text,
	`expires_at` integer NOT NULL,
	`return_url` text,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`used_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `portal_sessions_link` ON `portal_sessions` (`link_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `portal_sessions_session` ON `portal_sessions` (`session_hash`);--> statement-breakpoint
CREATE INDEX `portal_sessions_expires` ON `portal_sessions` (`expires_at`);