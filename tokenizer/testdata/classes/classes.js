// Prints the class of every code point (0 other, 1 letter, 2 number, 3 space,
// x surrogate) as node's regular expressions see it; see compare.sh.
let out=[];
for(let r=0;r<=0x10FFFF;r++){ if(r>=0xD800&&r<=0xDFFF){out.push('x');continue}
 const s=String.fromCodePoint(r); let c='0';
 if(/^\s$/u.test(s))c='3'; else if(/^\p{L}$/u.test(s))c='1'; else if(/^\p{N}$/u.test(s))c='2'; out.push(c)}
process.stdout.write(out.join(''));
