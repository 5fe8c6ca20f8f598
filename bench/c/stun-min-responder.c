// The least a STUN Binding responder can do: one thread, one UDP socket, recvmmsg/sendmmsg of up
// to 64 datagrams, an answer with XOR-MAPPED-ADDRESS only, no checks beyond the header. A yardstick
// for what the machine allows, not a server.
//
//   stun-min-responder IP PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s IP PORT\n", argv[0]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &self.sin_addr);
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (bind(fd, (struct sockaddr *)&self, sizeof self) < 0) {
        perror("bind");
        return 1;
    }
    static unsigned char in[BATCH][1500], out[BATCH][32];
    static struct sockaddr_in from[BATCH];
    struct mmsghdr rx[BATCH], tx[BATCH];
    struct iovec rxv[BATCH], txv[BATCH];
    for (int i = 0; i < BATCH; i++) {
        rxv[i] = (struct iovec){in[i], sizeof in[i]};
        rx[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &rxv[i], .msg_iovlen = 1}};
    }
    for (;;) {
        for (int i = 0; i < BATCH; i++) rx[i].msg_hdr.msg_namelen = sizeof from[i];
        int n = recvmmsg(fd, rx, BATCH, MSG_WAITFORONE, NULL);
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (rx[i].msg_len < 20 || in[i][0] != 0x00 || in[i][1] != 0x01) continue;
            unsigned char *o = out[m];
            o[0] = 0x01; o[1] = 0x01; o[2] = 0; o[3] = 12;
            memcpy(o + 4, in[i] + 4, 16);               // cookie and transaction id
            o[20] = 0x00; o[21] = 0x20; o[22] = 0; o[23] = 8; o[24] = 0; o[25] = 0x01;
            uint16_t port = ntohs(from[i].sin_port) ^ 0x2112;
            o[26] = port >> 8; o[27] = port;
            uint32_t ip = from[i].sin_addr.s_addr ^ htonl(0x2112A442);
            memcpy(o + 28, &ip, 4);
            txv[m] = (struct iovec){o, 32};
            tx[m] = (struct mmsghdr){.msg_hdr = {.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &txv[m], .msg_iovlen = 1}};
            m++;
        }
        if (m > 0) sendmmsg(fd, tx, m, 0);
    }
}
