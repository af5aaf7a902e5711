/* natprobe's spool. See spool.h. */
#include "probe/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

static int write_all(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

int spool_check(const char *dir)
{
	char path[SPOOL_PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s", dir) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return files_make_folders(path) || access(dir, W_OK | X_OK) ? -1 : 0;
}

int spool_write(const char *dir, const char *run_id, const struct tm *when, const char *text,
		size_t len, char path[SPOOL_PATH_MAX])
{
	char folder[SPOOL_PATH_MAX], tmp[SPOOL_PATH_MAX], stamp[32];
	int fd, saved, rc;

	strftime(stamp, sizeof(stamp), "%Y/%m/%d", when);
	if ((size_t)snprintf(folder, sizeof(folder), "%s/%s", dir, stamp) >= sizeof(folder)) {
		snprintf(path, SPOOL_PATH_MAX, "%s", dir);
		errno = ENAMETOOLONG;
		return -1;
	}
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", when);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", folder, run_id) >= sizeof(tmp) ||
	    (size_t)snprintf(path, SPOOL_PATH_MAX, "%s/%s-%s.json", folder, stamp, run_id) >=
		SPOOL_PATH_MAX) {
		snprintf(path, SPOOL_PATH_MAX, "%s", dir);
		errno = ENAMETOOLONG;
		return -1;
	}
	if (files_make_folders(folder)) {
		saved = errno;
		snprintf(path, SPOOL_PATH_MAX, "%s", folder);
		errno = saved;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		saved = errno;
		snprintf(path, SPOOL_PATH_MAX, "%s", tmp);
		errno = saved;
		return -1;
	}
	rc = write_all(fd, text, len) || fsync(fd) ? -1 : 0;
	saved = errno;
	if (close(fd) && !rc) {
		rc = -1;
		saved = errno;
	}
	if (rc) {
		unlink(tmp); /* a full disk leaves no half record behind */
		snprintf(path, SPOOL_PATH_MAX, "%s", tmp);
		errno = saved ? saved : EIO;
		return -1;
	}
	if (rename(tmp, path) || files_sync_folder(folder)) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}
