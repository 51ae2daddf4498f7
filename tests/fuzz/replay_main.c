/*
 * main() for the replay builds of the fuzz targets: runs
 * LLVMFuzzerTestOneInput once on every file named on the command line, or
 * found directly inside a directory named there (the committed corpus).
 * Each input runs in a child process, so that one broken invariant
 * (abort) or memory error (ASan) does not hide the next: every failing
 * input is named, and the run fails if any did, or if it ran nothing.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static unsigned	replay_failed;

/* Run one input in a child; count it as failed unless the child exits 0. */
static void
replay_run(const char *path, const char *buf, size_t len)
{
	pid_t	pid;
	int	status;

	fflush(NULL);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		/* An exact-size copy, as libFuzzer gives it. */
		char	*exact = fz_dup(buf, len);

		LLVMFuzzerTestOneInput((const uint8_t *)exact, len);
		free(exact);
		exit(0);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			perror("waitpid");
			exit(1);
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	replay_failed++;
	if (WIFSIGNALED(status))
		fprintf(stderr, "FAILED %s (%zu bytes): signal %d\n", path,
		    len, WTERMSIG(status));
	else
		fprintf(stderr, "FAILED %s (%zu bytes): exit %d\n", path, len,
		    WEXITSTATUS(status));
}

/* Run one file; 0, or -1 if it cannot be read. */
static int
replay_file(const char *path)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	replay_run(path, buf, len);
	free(buf);
	return 0;
}

static int
skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Run every regular file directly inside dir, in name order. */
static int
replay_dir(const char *dir, unsigned *count)
{
	struct dirent	**names;
	struct stat	  st;
	char		  path[4096];
	int		  n, i, rc = 0;

	if ((n = scandir(dir, &names, skip_dot, alphasort)) == -1) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(path) == -1)
				rc = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	struct stat	st;
	unsigned	count = 0;
	int		i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) == -1)
				rc = 1;
		} else if (replay_file(argv[i]) == -1)
			rc = 1;
		else
			count++;
	}
	printf("%u inputs replayed, %u failed%s\n", count, replay_failed,
	    rc ? ", some unreadable" : "");
	return rc != 0 || count == 0 || replay_failed > 0 ? 1 : 0;
}
