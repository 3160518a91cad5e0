/* The floor for a local invoke: the request `cargo-lambda invoke` sends to the emulator, over a
 * plain socket with nothing but libc, and the body printed with a newline. A program cannot
 * do the same work in less time, so bench/startup.sh measures invoke against it.
 * Usage: floor_client IPV4-ADDRESS PORT FUNCTION PAYLOAD */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 5) {
        fputs("usage: floor_client IPV4-ADDRESS PORT FUNCTION PAYLOAD\n", stderr);
        return 2;
    }
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)atoi(argv[2]))};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1 || fd < 0 ||
        connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("floor_client: connect");
        return 3;
    }
    static char buffer[1 << 16];
    int length = snprintf(buffer, sizeof buffer,
                          "POST /2015-03-31/functions/%s/invocations HTTP/1.1\r\nHost: %s:%s\r\n"
                          "Accept: */*\r\nContent-Length: %zu\r\n\r\n%s",
                          argv[3], argv[1], argv[2], strlen(argv[4]), argv[4]);
    if (length < 0 || (size_t)length >= sizeof buffer ||
        write(fd, buffer, (size_t)length) != length) {
        perror("floor_client: write");
        return 3;
    }
    /* Reads until the head and the Content-Length bytes after it are in. */
    size_t received = 0;
    for (;;) {
        if (received == sizeof buffer - 1) {
            fputs("floor_client: the answer is too large\n", stderr);
            return 3;
        }
        ssize_t got = read(fd, buffer + received, sizeof buffer - 1 - received);
        if (got <= 0) {
            fputs("floor_client: the answer ended early\n", stderr);
            return 3;
        }
        received += (size_t)got;
        buffer[received] = '\0';
        char *end = strstr(buffer, "\r\n\r\n");
        char *field = strstr(buffer, "Content-Length: ");
        if (!end || !field || field > end)
            continue;
        size_t head = (size_t)(end + 4 - buffer), body = strtoul(field + 16, NULL, 10);
        if (received >= head + body) {
            fwrite(buffer + head, 1, body, stdout);
            putchar('\n');
            return 0;
        }
    }
}
