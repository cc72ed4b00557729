/* replay.c - runs a fuzz target's inputs once each, without libFuzzer, so
 * `make test` replays every seed in fuzz/corpus/ with gcc and ASan+UBSan.
 *
 *   cc -fsanitize=address,undefined -DFUZZ_TARGET='"fuzz_ws.c"' \
 *      fuzz/replay.c -o replay_ws
 *   ./replay_ws fuzz/corpus/fuzz_ws/...
 *
 * A target signals a broken invariant with MUST (a trap), a memory error
 * through the sanitizers and a leak through LeakSanitizer as the process
 * exits; each ends it with a non-zero status, so each input runs in a child
 * of its own: one failure names its input and the rest still run. An input
 * that runs over REPLAY_SECONDS is killed and fails. Prints one line per
 * input that fails and a summary line "N passed, N failed" that
 * tests/run.sh counts. Built with clang's -fprofile-instr-generate, the
 * children also write the coverage profiles of the corpus.
 */
#include FUZZ_TARGET /* first: the target includes rt.h, which sets the feature macros */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPLAY_SECONDS 60

/* Reads a whole file into a malloc'd buffer; NULL when it cannot. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f) return NULL;
    for (;;) {
        if (n == cap) {
            uint8_t *p = realloc(buf, cap ? cap * 2 : 4096);
            if (!p) { free(buf); fclose(f); return NULL; }
            buf = p;
            cap = cap ? cap * 2 : 4096;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* 0 when the input ran to its end in a child process. */
static int replay_one(const char *path)
{
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    if (!data) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(REPLAY_SECONDS);
        LLVMFuzzerTestOneInput(data, len);
        exit(0); /* atexit: LeakSanitizer, coverage profiles */
    }
    free(data);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return 1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFSIGNALED(status))
        printf("FAIL %s: signal %d\n", path, WTERMSIG(status));
    else
        printf("FAIL %s: exit %d\n", path, WEXITSTATUS(status));
    return 1;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        if (replay_one(argv[i]) == 0) passed++;
        else failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
