# The tutorial's UDP chat client, unchanged but for where it sends (from
# argv) and for ending cleanly when its input runs out: a datagram per
# line, then one recvfrom(1024) for the answer.
from socket import *
import sys

ip_port = (sys.argv[1], int(sys.argv[2]))
buffer_size = 1024

udp_client = socket(AF_INET, SOCK_DGRAM)

while True:
    try:
        msg = input('>>: ').strip()
    except EOFError:
        break
    udp_client.sendto(msg.encode('utf-8'), ip_port)
    data, addr = udp_client.recvfrom(buffer_size)
    print(data.decode('utf-8'))
