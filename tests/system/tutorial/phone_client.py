# The tutorial's TCP "phone call" client, unchanged but for where it
# connects (host and port come from argv so the tests can pick a free
# port) and for ending cleanly when its input runs out: a line, one
# recv(1024) for the answer, printed as bytes.
import socket
import sys

phone = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
phone.connect((sys.argv[1], int(sys.argv[2])))
while True:
    try:
        msg = input('>>: ').strip()
    except EOFError:
        break
    if not msg:
        continue
    phone.send(msg.encode('utf-8'))
    data = phone.recv(1024)
    print(data)
phone.close()
