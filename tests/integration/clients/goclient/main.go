// goclient: a Go program for test_supervise.py. Go makes its own system
// calls and, built with CGO_ENABLED=0, resolves names itself, so neither
// the preload library nor libc sees what it does.
//
//	goclient get URL            http.Get; prints the body
//	goclient dial N HOST:PORT   N concurrent net.Dial, each sends one line
//	                            to the TCP echo and reads it back; prints
//	                            one JSON object (ok, errors)
//	goclient udp HOST:PORT      one datagram to the UDP echo, twice: on a
//	                            connected socket (net.Dial "udp": connect
//	                            + write) and on an unconnected one
//	                            (WriteTo: sendto); prints one JSON object
//	                            with what each got (the answer or the error)
//	goclient resolve NAME       net.LookupHost; prints one JSON object
//
// Exit status: 0 when it got as far as printing, 1 for a failed get or
// resolve, 2 for wrong arguments.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

const ioTimeout = 10 * time.Second

func usage() {
	fmt.Fprintln(os.Stderr, "usage: goclient get URL | dial N HOST:PORT | udp HOST:PORT | resolve NAME")
	os.Exit(2)
}

func printJSON(v interface{}) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func get(url string) int {
	c := &http.Client{Timeout: ioTimeout}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "get:", err)
		return 1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		return 1
	}
	os.Stdout.Write(body)
	return 0
}

func echoOnce(i int, addr string) error {
	conn, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	line := fmt.Sprintf("go dial %d\n", i)
	if _, err := conn.Write([]byte(line)); err != nil {
		return err
	}
	got, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if got != line {
		return fmt.Errorf("echo %q, sent %q", got, line)
	}
	return nil
}

func dial(n int, addr string) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := map[string]int{}
	ok := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := echoOnce(i, addr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[err.Error()]++
			} else {
				ok++
			}
		}(i)
	}
	wg.Wait()
	printJSON(map[string]interface{}{"dials": n, "ok": ok, "errors": errs})
	return 0
}

type udpResult struct {
	Error  string `json:"error"`
	Answer string `json:"answer"`
}

func udpExchange(conn net.PacketConn, to net.Addr, connected bool, msg string) udpResult {
	var err error
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	if connected {
		_, err = conn.(net.Conn).Write([]byte(msg))
	} else {
		_, err = conn.WriteTo([]byte(msg), to)
	}
	if err != nil {
		return udpResult{Error: "send: " + err.Error()}
	}
	buf := make([]byte, 2048)
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		return udpResult{Error: "receive: " + err.Error()}
	}
	return udpResult{Answer: string(buf[:n])}
}

func udp(addr string) int {
	out := map[string]udpResult{}
	conn, err := net.DialTimeout("udp", addr, ioTimeout)
	if err != nil {
		out["connected"] = udpResult{Error: "dial: " + err.Error()}
	} else {
		out["connected"] = udpExchange(conn.(net.PacketConn), nil, true, "go connected udp\n")
		conn.Close()
	}
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		out["unconnected"] = udpResult{Error: "resolve: " + err.Error()}
	} else {
		pc, err := net.ListenPacket("udp", ":0")
		if err != nil {
			out["unconnected"] = udpResult{Error: "listen: " + err.Error()}
		} else {
			out["unconnected"] = udpExchange(pc, to, false, "go sendto udp\n")
			pc.Close()
		}
	}
	printJSON(out)
	return 0
}

func resolve(name string) int {
	addrs, err := net.LookupHost(name)
	res := map[string]interface{}{"name": name, "addrs": addrs}
	if err != nil {
		res["error"] = err.Error()
	}
	printJSON(res)
	if err != nil {
		return 1
	}
	return 0
}

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	switch os.Args[1] {
	case "get":
		os.Exit(get(os.Args[2]))
	case "dial":
		if len(os.Args) != 4 {
			usage()
		}
		n, err := strconv.Atoi(os.Args[2])
		if err != nil || n < 1 {
			usage()
		}
		os.Exit(dial(n, os.Args[3]))
	case "udp":
		os.Exit(udp(os.Args[2]))
	case "resolve":
		os.Exit(resolve(os.Args[2]))
	}
	usage()
}
