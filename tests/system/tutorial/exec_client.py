# The tutorial's TCP remote-command client, unchanged but for where it
# connects (host and port come from argv so the tests can pick a free
# port): a command per line, one recv(1024) for its reply, q quits.
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect((sys.argv[1], int(sys.argv[2])))
while True:
    cmd = input('>>: ').strip()
    if not cmd:
        continue
    if cmd == 'q':
        break
    s.send(cmd.encode('utf-8'))
    data = s.recv(1024)
    print(data.decode('utf-8'))
s.close()
