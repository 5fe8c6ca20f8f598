// A plain closed-loop STUN Binding load generator: single-threaded, SOCKETS connected UDP sockets,
// WINDOW requests outstanding on each, one system call per request sent and per answer received
// (no batching). Each answer is replaced by a new request at once. Counts answers per second after
// a one-second warm-up; a socket that hears nothing for 200 ms refills its window (losses).
//
//   stun-closed-loop HOST PORT SOCKETS WINDOW SECONDS
//
// 4 sockets x 64: a busy client; 400 sockets x 1: many clients with one request each.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void request(unsigned char *b, uint32_t n) {
    memset(b, 0, 20);
    b[1] = 0x01;                                   // Binding request, length 0
    b[4] = 0x21; b[5] = 0x12; b[6] = 0xA4; b[7] = 0x42;
    memcpy(b + 8, &n, 4);                          // a transaction id of our own counting
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT SOCKETS WINDOW SECONDS\n", argv[0]);
        return 2;
    }
    int sockets = atoi(argv[3]), window = atoi(argv[4]);
    double seconds = atof(argv[5]);
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &server.sin_addr);
    int ep = epoll_create1(0);
    int *fd = calloc(sockets, sizeof(int)), *outstanding = calloc(sockets, sizeof(int));
    double *heard = calloc(sockets, sizeof(double));
    unsigned char out[20], in[1500];
    uint32_t next = 1;
    for (int i = 0; i < sockets; i++) {
        fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (fd[i] < 0 || connect(fd[i], (struct sockaddr *)&server, sizeof server) < 0) {
            perror("socket/connect");
            return 1;
        }
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &e);
    }
    double start = now(), counting = start + 1, end = counting + seconds, refill = start;
    long answers = 0, sent = 0;
    struct epoll_event events[256];
    for (double t = start; t < end; t = now()) {
        if (t >= refill) {
            for (int i = 0; i < sockets; i++) {
                if (outstanding[i] < window && (outstanding[i] == 0 || t - heard[i] > 0.2)) {
                    for (outstanding[i] = 0; outstanding[i] < window; outstanding[i]++) {
                        request(out, next++);
                        send(fd[i], out, 20, 0);
                        sent++;
                    }
                    heard[i] = t;
                }
            }
            refill = t + 0.1;
        }
        int n = epoll_wait(ep, events, 256, 10);
        for (int k = 0; k < n; k++) {
            int i = events[k].data.u32;
            ssize_t r;
            while ((r = recv(fd[i], in, sizeof in, 0)) >= 20) {
                heard[i] = t;
                if (in[0] == 0x01 && in[1] == 0x01 && t >= counting) answers++;
                request(out, next++);
                if (send(fd[i], out, 20, 0) == 20) sent++; else outstanding[i]--;
            }
        }
    }
    printf("{\"answers_per_second\":%.0f,\"sockets\":%d,\"window\":%d,\"seconds\":%.0f}\n", answers / seconds, sockets, window, seconds);
    return 0;
}
