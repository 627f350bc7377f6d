# The tutorial's UDP remote-command client, unchanged but for where it
# sends (from argv) and for ending cleanly when its input runs out: a
# command per datagram, then one recvfrom(1024) for its output; q quits.
from socket import *
import sys

ip_port = (sys.argv[1], int(sys.argv[2]))
buffer_size = 1024

udp_client = socket(AF_INET, SOCK_DGRAM)

while True:
    try:
        cmd = input('>>: ').strip()
    except EOFError:
        break
    if not cmd:
        continue
    if cmd == 'q':
        break
    udp_client.sendto(cmd.encode('utf-8'), ip_port)
    data, addr = udp_client.recvfrom(buffer_size)
    print(data.decode('utf-8'))
udp_client.close()
