package com.example.lib;

public class Hello {
    public static String greet(String who) { return "hello " + who; }
}
