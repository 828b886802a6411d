/* nop: does nothing. Built with cc -static, it is the program whose
 * start-up under the supervisor the benchmarks time (a static /bin/true).
 */
int main(void)
{
	return 0;
}
